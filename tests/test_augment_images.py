"""Flips, shifts and noise on scikit-learn's 8x8 digits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from tether.data.augmentation import (
    augment_images,
    flip_images,
    noise_images,
    shift_images,
)
from tether.data.splits import split
from tether.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    data = load_digits()
    return data.images, data.target


@pytest.fixture(scope="module")
def train_part(digits: tuple[np.ndarray, np.ndarray]) -> pd.DataFrame:
    labels = pd.DataFrame({"label": digits[1]})
    part, _, _ = split(labels, by="stratified", stratify="label", seed=0)
    return part


def test_digits_shape(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = digits
    assert images.shape == (1797, 8, 8)
    assert images.min() == 0
    assert images.max() == 16


def test_horizontal_flip(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = digits
    flipped = flip_images(images, "horizontal")
    np.testing.assert_array_equal(flipped, np.flip(images, axis=2))
    np.testing.assert_array_equal(flipped[0, 3], images[0, 3, ::-1])
    np.testing.assert_array_equal(flip_images(flipped, "horizontal"), images)


def test_vertical_flip(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = digits
    flipped = flip_images(images, "vertical")
    np.testing.assert_array_equal(flipped, np.flip(images, axis=1))
    np.testing.assert_array_equal(flipped[5, 0], images[5, 7])


def test_flip_is_a_copy(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = digits
    flipped = flip_images(images, "horizontal")
    assert not np.shares_memory(flipped, images)


def test_shift_right_down(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = digits
    shifted = shift_images(images, 1, 2)
    np.testing.assert_array_equal(shifted[:, 1:, 2:], images[:, :7, :6])
    assert not shifted[:, 0, :].any()
    assert not shifted[:, :, :2].any()


def test_shift_left_up(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = digits
    shifted = shift_images(images, -3, -1)
    np.testing.assert_array_equal(shifted[:, :5, :7], images[:, 3:, 1:])
    assert not shifted[:, 5:, :].any()
    assert not shifted[:, :, 7].any()


def test_shift_zero_is_identity(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = digits
    np.testing.assert_array_equal(shift_images(images, 0, 0), images)


def test_shift_one_pixel_values() -> None:
    image = np.arange(9, dtype=np.int64).reshape(1, 3, 3)
    assert shift_images(image, 0, 1)[0].tolist() == [[0, 0, 1], [0, 3, 4], [0, 6, 7]]
    assert shift_images(image, -1, 0)[0].tolist() == [[3, 4, 5], [6, 7, 8], [0, 0, 0]]


def test_shift_channels() -> None:
    images = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    shifted = shift_images(images, 1, 0)
    np.testing.assert_array_equal(shifted[:, 1:], images[:, :3])
    assert shifted.dtype == np.uint8


def test_noise_clipped_to_range(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = digits
    noisy = noise_images(images, 2.0, seed=0, value_range=(0, 16))
    assert noisy.min() == 0
    assert noisy.max() == 16
    expected = np.clip(
        images + np.random.default_rng(0).normal(scale=2.0, size=images.shape), 0, 16
    )
    np.testing.assert_array_equal(noisy, expected)


def test_noise_reproducible(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = digits
    first = noise_images(images, 1.0, seed=4)
    again = noise_images(images, 1.0, seed=4)
    other = noise_images(images, 1.0, seed=5)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_noise_integer_images_rounded() -> None:
    images = np.full((10, 4, 4), 250, dtype=np.uint8)
    noisy = noise_images(images, 20.0, seed=0, value_range=(0, 255))
    assert noisy.dtype == np.uint8
    assert noisy.max() == 255
    assert noisy.min() < 250


def test_augment_images_blocks(
    digits: tuple[np.ndarray, np.ndarray], train_part: pd.DataFrame
) -> None:
    images, labels = digits
    positions = train_part.index.to_numpy()
    part_images, part_labels = images[positions], labels[positions]
    result, result_labels, record = augment_images(
        part_images,
        part_labels,
        part=train_part,
        flips=["horizontal", "vertical"],
        shifts=[(1, 0)],
        noise=1.0,
        value_range=(0, 16),
        seed=2,
    )

    count = len(positions)
    assert count == 1438
    assert result.shape == (5 * count, 8, 8)
    assert result_labels is not None

    np.testing.assert_array_equal(result[:count], part_images)
    np.testing.assert_array_equal(
        result[count : 2 * count], np.flip(part_images, axis=2)
    )
    np.testing.assert_array_equal(
        result[2 * count : 3 * count], np.flip(part_images, axis=1)
    )
    np.testing.assert_array_equal(
        result[3 * count : 4 * count], shift_images(part_images, 1, 0)
    )
    np.testing.assert_array_equal(
        result[4 * count :],
        noise_images(part_images, 1.0, seed=2, value_range=(0, 16)),
    )

    np.testing.assert_array_equal(result_labels, np.tile(part_labels, 5))
    assert record.rows_out == 5 * count
    assert record.role == "train"
    assert record.classes_out["8"] == 5 * int((part_labels == 8).sum())


def test_flat_rows_rejected(digits: tuple[np.ndarray, np.ndarray]) -> None:
    data = load_digits().data
    with pytest.raises(
        DataError,
        match=r"images must have shape \(n, height, width\) or \(n, height, width, "
        r"channels\), got shape \(1797, 64\); reshape flat rows first, e\.g\. "
        r"data\.reshape\(-1, 8, 8\)",
    ):
        flip_images(data, "horizontal")


def test_single_image_rejected(digits: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(DataError, match=r"got shape \(8, 8\)"):
        shift_images(digits[0][0], 1, 1)


def test_text_images_rejected() -> None:
    with pytest.raises(DataError, match="images must have a real numeric dtype"):
        flip_images(np.full((1, 2, 2), "x"), "horizontal")


def test_invalid_flip(digits: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(ConfigError, match="invalid flip 'diagonal'; use one of"):
        flip_images(digits[0], "diagonal")  # type: ignore[arg-type]


def test_shift_too_large(digits: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(
        ConfigError, match="shift dx=8 must be an integer with absolute value below"
    ):
        shift_images(digits[0], 0, 8)


def test_invalid_value_range(digits: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(ConfigError, match=r"value_range \(16, 0\) must be"):
        noise_images(digits[0], 1.0, seed=0, value_range=(16, 0))


def test_part_length_mismatch(
    digits: tuple[np.ndarray, np.ndarray], train_part: pd.DataFrame
) -> None:
    with pytest.raises(
        DataError, match="part has 1438 rows but images has 1797; pass the images"
    ):
        augment_images(digits[0], part=train_part, flips=["horizontal"])


def test_labels_length_mismatch(
    digits: tuple[np.ndarray, np.ndarray], train_part: pd.DataFrame
) -> None:
    images = digits[0][train_part.index.to_numpy()]
    with pytest.raises(DataError, match="labels has 1797 entries but images has 1438"):
        augment_images(images, digits[1], part=train_part, flips=["vertical"])


def test_no_operation(
    digits: tuple[np.ndarray, np.ndarray], train_part: pd.DataFrame
) -> None:
    images = digits[0][train_part.index.to_numpy()]
    with pytest.raises(ConfigError, match="needs at least one of flips, shifts or"):
        augment_images(images, part=train_part)
