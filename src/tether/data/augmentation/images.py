"""Flips, integer shifts and additive noise for batches of array images.

Images are NumPy arrays of shape ``(n, height, width)`` or
``(n, height, width, channels)``, such as ``sklearn.datasets.load_digits().images``
(1797 images of 8×8 pixels with values 0 to 16). Every operation works on the
whole batch at once.

:func:`augment_images` applies the split-before-augment rule of
:mod:`tether.data.augmentation.guard`: the images must be those of the rows of
a train part, passed as ``part``. Split a frame with one row per image (the
labels, say), then index the images with the part's row positions.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from tether.data.augmentation.guard import require_train_frame
from tether.data.augmentation.record import AugmentRecord, check_seed, class_counts
from tether.data.splits.rule import SPLIT_ATTR
from tether.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

FLIP_AXES = {"horizontal": 2, "vertical": 1}
Flip = Literal["horizontal", "vertical"]


def check_images(images: Any) -> np.ndarray:
    """Return ``images`` when it is a numeric array of shape (n, h, w) or (n, h, w, c).

    Raises:
        DataError: it is not an array, not numeric, empty, or of another shape.
    """
    if not isinstance(images, np.ndarray):
        raise DataError(
            f"images must be a NumPy array, got {type(images).__qualname__}; convert "
            "it with np.asarray"
        )
    if images.ndim not in (3, 4):
        raise DataError(
            f"images must have shape (n, height, width) or (n, height, width, "
            f"channels), got shape {images.shape}; reshape flat rows first, e.g. "
            "data.reshape(-1, 8, 8) for the 64 pixels of an 8x8 digit"
        )
    if not (np.issubdtype(images.dtype, np.number) and images.dtype.kind != "c"):
        raise DataError(
            f"images must have a real numeric dtype, got {images.dtype}; convert "
            "them with images.astype(np.float64)"
        )
    if images.shape[0] == 0:
        raise DataError("images has no image (shape starts with 0); pass at least one")
    return images


def flip_images(images: np.ndarray, axis: Flip) -> np.ndarray:
    """Return the images mirrored left-right (``"horizontal"``) or top-bottom."""
    check_images(images)
    if axis not in FLIP_AXES:
        raise ConfigError(
            f"invalid flip {axis!r}; use one of {', '.join(FLIP_AXES)}",
            setting="flips",
            value=axis,
        )
    return np.flip(images, axis=FLIP_AXES[axis]).copy()


def shift_images(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Return the images moved ``dy`` pixels down and ``dx`` right, zero-filled.

    Negative values move up and left. Pixels moved past the edge are dropped.
    """
    check_images(images)
    height, width = images.shape[1], images.shape[2]
    for name, value, size in (("dy", dy, height), ("dx", dx, width)):
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Integral)
            or abs(value) >= size
        ):
            raise ConfigError(
                f"shift {name}={value!r} must be an integer with absolute value "
                f"below the image size {size}",
                setting="shifts",
                value=value,
            )
    shifted = np.zeros_like(images)
    rows_to, rows_from = _window(int(dy), height)
    columns_to, columns_from = _window(int(dx), width)
    shifted[:, rows_to, columns_to] = images[:, rows_from, columns_from]
    return shifted


def _window(offset: int, size: int) -> tuple[slice, slice]:
    """Return the target and source slices of a shift by ``offset`` pixels."""
    if offset >= 0:
        return slice(offset, size), slice(0, size - offset)
    return slice(0, size + offset), slice(-offset, size)


def noise_images(
    images: np.ndarray,
    sigma: float,
    *,
    seed: int,
    value_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """Return the images plus ``N(0, sigma^2)`` noise, clipped to ``value_range``.

    ``sigma`` is in pixel units. ``value_range`` defaults to the smallest and
    largest value in ``images``. Integer images are rounded back to their dtype.
    """
    check_images(images)
    seed = check_seed(seed)
    _check_sigma(sigma)
    low, high = _value_range(images, value_range)
    rng = np.random.default_rng(seed)
    noisy = images.astype(np.float64) + rng.normal(scale=sigma, size=images.shape)
    clipped = np.clip(noisy, low, high)
    if np.issubdtype(images.dtype, np.integer):
        return np.rint(clipped).astype(images.dtype)
    return clipped.astype(images.dtype, copy=False)


def _check_sigma(sigma: Any) -> None:
    if (
        isinstance(sigma, bool)
        or not isinstance(sigma, numbers.Real)
        or not 0 < float(sigma) < float("inf")
    ):
        raise ConfigError(
            f"noise sigma must be a positive number in pixel units, got {sigma!r}",
            setting="noise",
            value=sigma,
        )


def _value_range(
    images: np.ndarray, value_range: tuple[float, float] | None
) -> tuple[float, float]:
    if value_range is None:
        return float(images.min()), float(images.max())
    low, high = value_range
    if not low < high:
        raise ConfigError(
            f"value_range {value_range!r} must be (low, high) with low < high, such "
            "as (0, 16) for digits or (0, 255) for 8-bit images",
            setting="value_range",
            value=value_range,
        )
    return float(low), float(high)


def augment_images(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    part: pd.DataFrame | None = None,
    allow_unsplit: bool = False,
    flips: Sequence[Flip] = (),
    shifts: Sequence[tuple[int, int]] = (),
    noise: float | None = None,
    value_range: tuple[float, float] | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray | None, AugmentRecord]:
    """Append flipped, shifted and noisy copies of the images of a train part.

    Args:
        images: Array of shape (n, h, w) or (n, h, w, c).
        labels: Optional labels, one per image; repeated for every copy.
        part: The train part whose rows these images are (``len(part) == n``).
        allow_unsplit: Accept images without ``part``. Set it only when no test
            set is drawn from these images.
        flips: ``"horizontal"`` and/or ``"vertical"``: one copy each.
        shifts: ``(dy, dx)`` pairs: one zero-filled shifted copy each.
        noise: Standard deviation of Gaussian noise in pixel units: one copy.
        value_range: Valid pixel range for the noisy copy (see
            :func:`noise_images`).
        seed: Seed of the noise.

    Returns:
        ``(images, labels, record)``: the originals first, then one block of
        ``n`` copies per flip, per shift and for the noise, in that order.

    Raises:
        DataError: the images have the wrong shape or dtype, the labels or the
            part have another length, ``part`` is a test or validation part, or
            ``part`` is missing and ``allow_unsplit`` is false.
        ConfigError: no operation is given, or one is invalid.
    """
    check_images(images)
    seed = check_seed(seed)
    role, part_digest = _check_part(part, len(images), allow_unsplit)
    if labels is not None and len(labels) != len(images):
        raise DataError(
            f"labels has {len(labels)} entries but images has {len(images)}; pass "
            "one label per image"
        )
    if not flips and not shifts and noise is None:
        raise ConfigError(
            "augment_images needs at least one of flips, shifts or noise",
            setting="flips",
        )
    blocks = [images]
    blocks.extend(flip_images(images, axis) for axis in flips)
    blocks.extend(shift_images(images, dy, dx) for dy, dx in shifts)
    if noise is not None:
        blocks.append(noise_images(images, noise, seed=seed, value_range=value_range))
    result = np.concatenate(blocks)
    result_labels = None if labels is None else np.concatenate([labels] * len(blocks))
    record = AugmentRecord(
        method="images",
        params={
            "flips": list(flips),
            "shifts": [list(shift) for shift in shifts],
            "noise": noise,
            "value_range": None if value_range is None else list(value_range),
        },
        seed=seed,
        rows_in=len(images),
        rows_out=len(result),
        role=role,
        part_digest=part_digest,
        classes_in={} if labels is None else class_counts(labels),
        classes_out={} if result_labels is None else class_counts(result_labels),
    )
    logger.info("augmented %d images to %d", len(images), len(result))
    record.log()
    return result, result_labels, record


def _check_part(
    part: pd.DataFrame | None, count: int, allow_unsplit: bool
) -> tuple[str | None, str | None]:
    """Return the part's role and digest after checking that it may be augmented."""
    if part is None:
        if not allow_unsplit:
            raise DataError(
                "augment_images needs part=, the train part of a split whose rows "
                "these images are, so that no test image is augmented; split first, "
                "or pass allow_unsplit=True if no test set is drawn from these images"
            )
        return None, None
    role = require_train_frame(part, allow_unsplit=allow_unsplit)
    if len(part) != count:
        raise DataError(
            f"part has {len(part)} rows but images has {count}; pass the images of "
            "the part's rows, e.g. images[positions] for the part's row positions"
        )
    mark = part.attrs.get(SPLIT_ATTR)
    return role, mark.get("digest") if isinstance(mark, dict) else None
