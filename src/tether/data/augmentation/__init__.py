"""Data augmentation of the train part of a split: resampling, noise, images.

- :func:`augment` resamples imbalanced classes (SMOTE, ADASYN, random over-
  and undersampling through imbalanced-learn) or appends copies with Gaussian
  noise, for a DataFrame.
- :func:`augment_version` does the same for a registered version and
  registers the result as a new version derived from it.
- :func:`augment_images` appends flipped, shifted and noisy copies of array
  images; :func:`flip_images`, :func:`shift_images` and :func:`noise_images`
  are the single operations.

Only a train part may be augmented: see :mod:`tether.data.augmentation.guard`.
"""

from __future__ import annotations

from tether.data.augmentation.frames import METHODS, augment, augment_version
from tether.data.augmentation.images import (
    augment_images,
    check_images,
    flip_images,
    noise_images,
    shift_images,
)
from tether.data.augmentation.record import AugmentRecord

__all__ = [
    "METHODS",
    "AugmentRecord",
    "augment",
    "augment_images",
    "augment_version",
    "check_images",
    "flip_images",
    "noise_images",
    "shift_images",
]
