"""Data sources on data the tests generate in each source's real on-disk format."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from resnet_exp.data import sources
from resnet_exp.data.pipeline import Batches, pixel_mean
from resnet_exp.data.sources import load_cifar, load_dataset, load_image_folder, make_synthetic
from resnet_exp.errors import UserError


def write_cifar(root: Path, name: str = "cifar10", per_batch: int = 20) -> dict:
    """Write the python-pickle layout torchvision downloads: cifar-10-batches-py/data_batch_1.. etc."""
    rng = np.random.default_rng(0)
    n_classes = 10 if name == "cifar10" else 100
    folder = root / ("cifar-10-batches-py" if name == "cifar10" else "cifar-100-python")
    folder.mkdir(parents=True)
    label_key = "labels" if name == "cifar10" else "fine_labels"
    train_files = [f"data_batch_{i}" for i in range(1, 6)] if name == "cifar10" else ["train"]
    test_files = ["test_batch"] if name == "cifar10" else ["test"]
    written = {}
    for fname in train_files + test_files:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, n_classes, per_batch).tolist()
        with open(folder / fname, "wb") as f:
            pickle.dump({"data": data, label_key: labels, "batch_label": fname}, f)
        written[fname] = (data, labels)
    if name == "cifar10":
        meta_name, meta = "batches.meta", {"label_names": [f"c{i}" for i in range(10)]}
    else:
        meta_name, meta = "meta", {"fine_label_names": [f"c{i}" for i in range(100)]}
    with open(folder / meta_name, "wb") as f:
        pickle.dump(meta, f)
    return written


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_pickles_load_as_uint8_nchw(tmp_path: Path, name: str) -> None:
    written = write_cifar(tmp_path, name)
    ds = load_cifar(name, tmp_path, download=False, verify=False)
    n_train = 100 if name == "cifar10" else 20
    assert ds.train_x.shape == (n_train, 3, 32, 32) and ds.train_x.dtype == torch.uint8
    assert ds.test_x.shape == (20, 3, 32, 32) and ds.train_y.dtype == torch.int64
    first = "data_batch_1" if name == "cifar10" else "train"
    data, labels = written[first]
    # CIFAR rows are 1024 R, then G, then B values, row-major: exactly NCHW after reshape.
    assert torch.equal(ds.train_x[0], torch.from_numpy(data[0].reshape(3, 32, 32)))
    assert ds.train_y[:20].tolist() == labels
    assert ds.num_classes == (10 if name == "cifar10" else 100)


def test_cifar_integrity_check_refuses_altered_files(tmp_path: Path) -> None:
    write_cifar(tmp_path)  # our generated batches cannot match torchvision's md5 list
    with pytest.raises(UserError, match="corrupted .*md5"):
        load_cifar("cifar10", tmp_path, download=False, verify=True)


def test_truncated_cifar_batch_is_a_clear_error(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:100])
    with pytest.raises(UserError, match="cannot read cifar10"):
        load_cifar("cifar10", tmp_path, download=False, verify=False)


def test_missing_cifar_without_download_names_the_root(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=f"cifar10 not found under {tmp_path}"):
        load_cifar("cifar10", tmp_path, download=False)


def test_failed_download_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torchvision import datasets

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(
        datasets, "CIFAR10", type("Offline", (datasets.CIFAR10,), {"__init__": offline})
    )
    with pytest.raises(UserError, match=r"could not be downloaded.*data=imagefolder"):
        load_cifar("cifar10", tmp_path, download=True)


def write_image_folder(
    root: Path, per_class: int = 3, classes=("cat", "airplane", "dog"), suffix=".png"
) -> None:
    from PIL import Image

    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                    root / split / c / f"{i:04d}{suffix}"
                )


def test_image_folder_decodes_sorted_classes_and_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from PIL import Image

    write_image_folder(tmp_path / "ds")
    with caplog.at_level("INFO", logger="resnet_exp"):
        ds = load_image_folder(tmp_path / "ds", cache_dir=tmp_path / "cache")
    # A cold cache says what it is doing (issue 25.8: a blank terminal for 15-20 s).
    assert f"decoding 18 images (once: cached in {tmp_path / 'cache'}" in caplog.text
    caplog.clear()
    assert ds.classes == ["airplane", "cat", "dog"]  # ImageFolder order: sorted class names
    assert ds.train_x.shape == (9, 3, 32, 32) and ds.test_x.shape == (9, 3, 32, 32)
    assert ds.train_y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    png = np.array(Image.open(tmp_path / "ds" / "train" / "cat" / "0000.png"))
    assert torch.equal(ds.train_x[3], torch.from_numpy(png).permute(2, 0, 1))  # lossless PNG
    assert re.fullmatch(r"imagefolder:ds@[0-9a-f]{12}", ds.name)  # folder name + content
    assert len(list((tmp_path / "cache").glob("images-*.pt"))) == 1

    def no_decoding(*a, **k):
        raise AssertionError("decoded again instead of using the cache")

    monkeypatch.setattr(sources, "_decode", no_decoding)
    with caplog.at_level("INFO", logger="resnet_exp"):
        again = load_image_folder(tmp_path / "ds", cache_dir=tmp_path / "cache")
    assert "decoding" not in caplog.text  # a warm cache is silent
    assert torch.equal(again.train_x, ds.train_x)
    assert again.name == ds.name  # the fingerprint came back with the cache


def test_a_changed_folder_replaces_its_cache_instead_of_adding_a_copy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    write_image_folder(tmp_path / "ds")
    write_image_folder(tmp_path / "other")
    load_image_folder(tmp_path / "ds", cache_dir=cache)
    load_image_folder(tmp_path / "ds", image_size=16, cache_dir=cache)  # another size: kept
    load_image_folder(tmp_path / "other", cache_dir=cache)  # another folder: kept
    (cache / f"images-{'0' * 20}.pt").write_bytes(b"x" * 1000)  # the old one-part format
    before = {p.name for p in cache.glob("images-*.pt")}
    assert len(before) == 4
    # The folder copied anew (new mtimes) and one image added: decoded again, and the new file
    # takes the old one's place.
    extra = tmp_path / "ds" / "test" / "dog" / "0099.png"
    extra.write_bytes((tmp_path / "ds" / "test" / "dog" / "0000.png").read_bytes())
    os.utime(tmp_path / "ds" / "train" / "cat" / "0000.png", ns=(1, 1))
    with caplog.at_level("INFO", logger="resnet_exp"):
        ds = load_image_folder(tmp_path / "ds", cache_dir=cache)
    assert ds.test_x.shape[0] == 10 and "decoding 19 images" in caplog.text
    assert "MB of superseded image caches" in caplog.text
    after = {p.name for p in cache.glob("images-*.pt")}
    assert len(after) == 3 and len(after - before) == 1
    gone = before - after
    assert len(gone) == 2 and f"images-{'0' * 20}.pt" in gone
    (new,) = after - before
    (old,) = gone - {f"images-{'0' * 20}.pt"}
    assert new.split("-")[1] == old.split("-")[1]  # same folder and size, newer files


def test_image_folder_identity_is_its_content_not_its_path(tmp_path: Path) -> None:
    import shutil

    from PIL import Image

    from resnet_exp.naming import dataset_key

    write_image_folder(tmp_path / "a" / "cifar")
    shutil.copytree(tmp_path / "a" / "cifar", tmp_path / "b" / "moved")
    first = load_image_folder(tmp_path / "a" / "cifar", cache_dir=tmp_path / "c1")
    moved = load_image_folder(tmp_path / "b" / "moved", cache_dir=tmp_path / "c2")
    fp = first.name.rsplit("@", 1)[1]
    assert first.name == f"imagefolder:cifar@{fp}" and moved.name == f"imagefolder:moved@{fp}"
    assert dataset_key(first.name) == dataset_key(moved.name) == f"imagefolder@{fp}"
    # One pixel changed: another dataset.
    path = tmp_path / "b" / "moved" / "test" / "dog" / "0001.png"
    img = np.array(Image.open(path))
    img[0, 0, 0] ^= 1
    Image.fromarray(img).save(path)
    changed = load_image_folder(tmp_path / "b" / "moved", cache_dir=tmp_path / "c2")
    assert dataset_key(changed.name) != dataset_key(first.name)
    # Names written before fingerprints (absolute paths) are kept as they are.
    assert dataset_key("imagefolder:/data/cifar") == "imagefolder:/data/cifar"
    assert dataset_key("cifar10") == "cifar10"


def test_image_folder_jpeg_and_resize(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "ds", suffix=".jpg")
    ds = load_image_folder(tmp_path / "ds", image_size=16, cache_dir=tmp_path / "cache")
    assert ds.train_x.shape == (9, 3, 16, 16)


def test_image_folder_missing_split_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "ds" / "train" / "a").mkdir(parents=True)
    with pytest.raises(UserError, match="test missing"):
        load_image_folder(tmp_path / "ds", cache_dir=tmp_path / "cache")


def test_corrupt_image_names_the_file(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "ds")
    bad = tmp_path / "ds" / "train" / "dog" / "0001.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(UserError, match="0001.png"):
        load_image_folder(tmp_path / "ds", cache_dir=tmp_path / "cache")


def test_synthetic_is_deterministic_and_learnable_shape() -> None:
    a, b = make_synthetic(64, 32, seed=3), make_synthetic(64, 32, seed=3)
    assert torch.equal(a.train_x, b.train_x) and a.train_x.shape == (64, 3, 32, 32)
    assert a.train_x.dtype == torch.uint8 and a.num_classes == 10
    assert not torch.equal(a.train_x, make_synthetic(64, 32, seed=4).train_x)


def test_unknown_source() -> None:
    with pytest.raises(UserError, match="cifar10, cifar100, imagefolder, synthetic"):
        load_dataset("mnist")


def test_pixel_mean_is_per_pixel() -> None:
    x = torch.zeros(4, 3, 2, 2, dtype=torch.uint8)
    x[:2, 0, 0, 0] = 255
    mean = pixel_mean(x)
    assert mean.shape == (3, 2, 2) and mean[0, 0, 0] == pytest.approx(0.5) and mean[1].sum() == 0


def test_batches_cover_each_epoch_without_replacement() -> None:
    x = torch.arange(40, dtype=torch.uint8).view(40, 1, 1, 1).expand(40, 3, 4, 4).contiguous()
    y = torch.arange(40)
    b = Batches(x, y, torch.zeros(3, 4, 4), 8, seed=0, device=torch.device("cpu"), augment=False)
    seen = torch.cat([b.next()[1] for _ in range(5)])
    assert sorted(seen.tolist()) == list(range(40))
    assert b.epochs_done == 1.0


def test_offline_archive_in_the_root_is_unpacked(tmp_path: Path) -> None:
    import tarfile

    write_cifar(tmp_path / "src")
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    ds = load_cifar("cifar10", root, download=False, verify=False)
    assert ds.train_x.shape == (100, 3, 32, 32)


def test_corrupted_offline_archive_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"not the archive")
    with pytest.raises(UserError, match="cifar-10-python.tar.gz is corrupted"):
        load_cifar("cifar10", tmp_path, download=False, verify=True)


def test_normalize_against_a_hand_computed_pixel() -> None:
    from resnet_exp.data.pipeline import normalize

    # Two images; pixel (c=1, h=0, w=1) is 51 and 153: mean (51 + 153) / 2 / 255 = 0.4.
    x = torch.zeros(2, 3, 2, 2, dtype=torch.uint8)
    x[0, 1, 0, 1], x[1, 1, 0, 1] = 51, 153
    x[:, 2, 1, 1] = 255  # a pixel that is 1.0 in every image: mean 1.0, normalized 0
    mean = pixel_mean(x)
    assert mean[1, 0, 1].item() == pytest.approx(0.4)
    out = normalize(x, mean)
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert out[0, 1, 0, 1].item() == pytest.approx(51 / 255 - 0.4)  # -0.2
    assert out[1, 1, 0, 1].item() == pytest.approx(153 / 255 - 0.4)  # +0.2
    assert out[0, 2, 1, 1].item() == pytest.approx(0.0)
    assert x[0, 1, 0, 1] == 51  # the uint8 input is left untouched
