"""The batched augmentation in data/pipeline.py against a straightforward per-image reference."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from resnet_exp.data.pipeline import Batches, augment, draw_augmentation, normalize, pixel_mean
from resnet_exp.data.sources import make_synthetic
from resnet_exp.models.net import build_net

PAD = 4
DRAWS = 20_000
CHI2_8DOF_P999 = 26.12  # chi-square critical value, 8 degrees of freedom, p = 0.001


def reference_augment(
    x: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor, pad: int = PAD
) -> torch.Tensor:
    """One image at a time, the obvious way: zero-pad, slice the window, maybe flip."""
    h, w = x.shape[-2:]
    out = []
    for img, (r, c), flip in zip(x, offsets.tolist(), flips.tolist(), strict=True):
        crop = F.pad(img, (pad, pad, pad, pad))[:, r : r + h, c : c + w]
        out.append(torch.flip(crop, dims=[2]) if flip else crop)
    return torch.stack(out)


def every_offset_and_flip(pad: int = PAD) -> tuple[torch.Tensor, torch.Tensor]:
    """All (row, col, flip) combinations: 9 x 9 x 2 = 162 for pad 4."""
    grid = [(r, c, f) for r in range(2 * pad + 1) for c in range(2 * pad + 1) for f in (0, 1)]
    t = torch.tensor(grid)
    return t[:, :2], t[:, 2].bool()


# --- the random draws -------------------------------------------------------------------------


def test_offsets_uniform_over_0_to_8_in_both_axes() -> None:
    offsets, _ = draw_augmentation(DRAWS, PAD, torch.Generator().manual_seed(1))
    assert offsets.shape == (DRAWS, 2)
    expected = DRAWS / 9
    for axis in range(2):
        counts = torch.bincount(offsets[:, axis], minlength=9).double()
        assert len(counts) == 9 and bool((counts > 0).all())  # 0..8, nothing else
        # Each frequency within 0.01 of 1/9 (4.5 standard deviations at 20k draws).
        assert float((counts / DRAWS - 1 / 9).abs().max()) < 0.01
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        assert chi2 < CHI2_8DOF_P999


def test_rows_and_cols_drawn_independently() -> None:
    offsets, _ = draw_augmentation(DRAWS, PAD, torch.Generator().manual_seed(2))
    joint = torch.bincount(offsets[:, 0] * 9 + offsets[:, 1], minlength=81).double()
    expected = DRAWS / 81
    chi2 = float(((joint - expected) ** 2 / expected).sum())
    assert chi2 < 130  # 80 dof: mean 80, p = 0.001 at about 124.8; a dependence would be far above


def test_flips_are_about_half() -> None:
    _, flips = draw_augmentation(DRAWS, PAD, torch.Generator().manual_seed(3))
    assert flips.dtype == torch.bool
    assert abs(flips.double().mean().item() - 0.5) < 0.02


# --- the batched crop/flip --------------------------------------------------------------------


def test_augment_equals_per_image_reference_for_every_offset_and_flip() -> None:
    offsets, flips = every_offset_and_flip()
    x = torch.randn(len(offsets), 3, 32, 32, generator=torch.Generator().manual_seed(4))
    assert torch.equal(augment(x, offsets, flips, PAD), reference_augment(x, offsets, flips))


def test_augment_equals_reference_for_random_draws() -> None:
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(64, 3, 32, 32, generator=gen)
    offsets, flips = draw_augmentation(64, PAD, gen)
    assert torch.equal(augment(x, offsets, flips, PAD), reference_augment(x, offsets, flips))


def test_center_crop_without_flip_is_identity() -> None:
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    center = torch.full((8, 2), PAD)
    assert torch.equal(augment(x, center, torch.zeros(8, dtype=torch.bool), PAD), x)
    assert torch.equal(augment(x, center, torch.ones(8, dtype=torch.bool), PAD), x.flip(3))


def test_border_is_zero_after_mean_subtraction() -> None:
    """The padded border is 0 in normalized units, i.e. the mean image, as in the paper."""
    x = torch.randn(1, 3, 32, 32)
    out = augment(x, torch.tensor([[0, 0]]), torch.tensor([False]), PAD)
    assert torch.equal(out[:, :, :PAD, :], torch.zeros(1, 3, PAD, 32))
    assert torch.equal(out[:, :, :, :PAD], torch.zeros(1, 3, 32, PAD))


# --- the whole pipeline vs the reference, through a net ---------------------------------------


def reference_batches(
    x: torch.Tensor, y: torch.Tensor, mean: torch.Tensor, batch: int, seed: int, count: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """What Batches is documented to do, rebuilt from the same generator: a fresh permutation per
    epoch (incomplete last batch dropped), then per-image normalize, pad, crop, flip."""
    gen = torch.Generator().manual_seed(seed)
    perm, pos, out = torch.randperm(len(x), generator=gen), 0, []
    for _ in range(count):
        if pos + batch > len(x):
            perm, pos = torch.randperm(len(x), generator=gen), 0
        idx = perm[pos : pos + batch]
        pos += batch
        offsets, flips = draw_augmentation(batch, PAD, gen)
        images = [normalize(x[i : i + 1], mean)[0] for i in idx.tolist()]
        out.append((reference_augment(torch.stack(images), offsets, flips), y[idx]))
    return out


def test_batches_match_reference_pipeline_in_input_and_loss() -> None:
    data = make_synthetic(
        train_size=72, test_size=0, seed=7
    )  # 4 batches of 16 per epoch, 8 dropped
    mean = pixel_mean(data.train_x)
    batches = Batches(data.train_x, data.train_y, mean, 16, seed=11, device=torch.device("cpu"))
    expected = reference_batches(data.train_x, data.train_y, mean, 16, seed=11, count=6)
    model = build_net(8, "residual", width=4, seed=0).eval()  # eval: BN is a fixed per-image map
    with torch.no_grad():
        for ref_x, ref_y in expected:  # 6 batches: crosses an epoch boundary
            xb, yb = batches.next()
            assert torch.equal(yb, ref_y)
            assert torch.equal(xb, ref_x)
            loss = F.cross_entropy(model(xb), yb).item()
            assert abs(loss - F.cross_entropy(model(ref_x), ref_y).item()) <= 1e-6
    assert batches.epoch == 1


def test_channels_last_forward_gives_the_same_loss() -> None:
    data = make_synthetic(train_size=32, test_size=0, seed=8)
    mean = pixel_mean(data.train_x)
    xb, yb = Batches(
        data.train_x, data.train_y, mean, 16, seed=0, device=torch.device("cpu")
    ).next()
    model = build_net(8, "residual", width=4, seed=0).eval()
    with torch.no_grad():
        loss = F.cross_entropy(model(xb), yb).item()
        model = model.to(memory_format=torch.channels_last)
        cl = F.cross_entropy(model(xb.contiguous(memory_format=torch.channels_last)), yb).item()
    assert abs(loss - cl) <= 1e-5
