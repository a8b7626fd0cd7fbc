"""Dataset sources. Each returns whole splits as uint8 NCHW tensors plus int64 labels.

Decoding happens once; CIFAR pickles load in a second, image folders are decoded once and cached
(see cache.py) so a second run starts fast.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from resnet_exp.errors import UserError

SOURCES = ("cifar10", "cifar100", "imagefolder", "synthetic")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp")


@dataclass
class Dataset:
    """Whole splits in memory. Images are uint8 [N, C, H, W]; labels int64 [N]."""

    name: str  # identity used to keep different datasets apart in reports
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def dataset_identity(source: str, root: str | Path) -> str:
    """The data part of a run's config identity: the source. A folder of images is identified by
    its content instead (`Dataset.name`, checked on resume and compared by the report), so the
    same images at two paths (two machines, a moved folder) are one dataset."""
    return source


def content_fingerprint(arrays: dict[str, torch.Tensor], classes: list[str]) -> str:
    """12 hex digits of SHA-256 over the decoded images, labels and class names: equal for the
    same images wherever they live, different if one pixel differs."""
    h = hashlib.sha256("\0".join(classes).encode())
    for key in ("train_x", "train_y", "test_x", "test_y"):
        t = arrays[key].contiguous()
        h.update(f"{key} {tuple(t.shape)} {t.dtype}\n".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:12]


# --- CIFAR-10 / CIFAR-100: the original python pickles, downloaded by torchvision ---------------


def _cifar_meta(name: str):
    from torchvision.datasets import CIFAR10, CIFAR100

    return CIFAR10 if name == "cifar10" else CIFAR100


def _read_cifar_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    x = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return x, np.asarray(entry[label_key], dtype=np.int64)


def _extract_local_archive(archive: Path, md5: str, root: Path, verify: bool) -> None:
    """An offline copy of cifar-10(0)-python.tar.gz in the data root: check it, unpack it."""
    from torchvision.datasets.utils import check_integrity, extract_archive

    if verify and not check_integrity(str(archive), md5):
        raise UserError(
            f"{archive} is corrupted (md5 mismatch); replace it with the original archive"
        )
    try:
        extract_archive(str(archive), str(root))
    except Exception as e:
        raise UserError(
            f"cannot unpack {archive} ({type(e).__name__}: {e}); replace it with the original archive"
        ) from None


def load_cifar(name: str, root: str | Path, download: bool = True, verify: bool = True) -> Dataset:
    """CIFAR-10/100 from `root`/cifar-10(0)-*-py; downloaded (md5-checked by torchvision) if absent.

    With `verify`, every batch file is checked against torchvision's md5 list, so a truncated or
    altered copy is refused instead of silently training on it.
    """
    meta = _cifar_meta(name)
    root = Path(root).expanduser()
    folder = root / meta.base_folder
    files = [f for f, _ in meta.train_list + meta.test_list] + [meta.meta["filename"]]
    archive = root / meta.filename
    if not all((folder / f).is_file() for f in files) and archive.is_file():
        _extract_local_archive(archive, meta.tgz_md5, root, verify)
    if not all((folder / f).is_file() for f in files):
        if not download:
            raise UserError(
                f"{name} not found under {root} (expected {folder}); set data.download=true or point data.root at a copy"
            )
        try:
            meta(root=str(root), train=True, download=True)  # fetches the archive, checks its md5
        except Exception as e:  # no network, unwritable root, bad archive ...
            raise UserError(
                f"{name} is not under {root} and could not be downloaded ({type(e).__name__}: {e}); "
                f"copy cifar-{name[5:]}-python.tar.gz or its extracted folder into {root}, "
                f"or use data=imagefolder data.root=PATH for a folder of images"
            ) from None
    if verify:
        from torchvision.datasets.utils import check_integrity

        for fname, md5 in meta.train_list + meta.test_list:
            if not check_integrity(str(folder / fname), md5):
                raise UserError(
                    f"{folder / fname} is corrupted (md5 mismatch); delete {folder} and run again to re-download"
                )
    label_key = "labels" if name == "cifar10" else "fine_labels"
    try:
        train = [_read_cifar_batch(folder / f, label_key) for f, _ in meta.train_list]
        test = [_read_cifar_batch(folder / f, label_key) for f, _ in meta.test_list]
        with open(folder / meta.meta["filename"], "rb") as f:
            classes = list(pickle.load(f, encoding="latin1")[meta.meta["key"]])
    except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError) as e:
        raise UserError(
            f"cannot read {name} under {folder} ({type(e).__name__}: {e}); delete it and download again"
        ) from None
    cat = lambda parts, i: torch.from_numpy(np.concatenate([p[i] for p in parts]))  # noqa: E731
    return Dataset(name, cat(train, 0), cat(train, 1), cat(test, 0), cat(test, 1), classes)


# --- ImageFolder layout: root/{train,test}/<class>/*.jpg ----------------------------------------


def list_image_folder(split_dir: Path) -> tuple[list[tuple[Path, int]], list[str]]:
    """Files and labels in ImageFolder order (classes sorted by name, files sorted)."""
    classes = sorted(
        d.name for d in split_dir.iterdir() if d.is_dir() and not d.name.startswith(".")
    )
    files = [
        (p, label)
        for label, c in enumerate(classes)
        for p in sorted((split_dir / c).iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES
    ]
    return files, classes


def _decode(files: list[tuple[Path, int]], image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    from PIL import Image

    x = np.empty((len(files), image_size, image_size, 3), dtype=np.uint8)
    for i, (p, _) in enumerate(files):
        try:
            with Image.open(p) as im:
                im = im.convert("RGB")
                if im.size != (image_size, image_size):
                    im = im.resize((image_size, image_size), Image.BILINEAR)
                x[i] = np.asarray(im)
        except OSError as e:
            raise UserError(f"cannot decode image {p} ({e}); remove or replace the file") from None
    y = torch.tensor([label for _, label in files], dtype=torch.int64)
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), y


def load_image_folder(
    root: str | Path, image_size: int = 32, cache_dir: str | Path | None = None
) -> Dataset:
    """Decode root/train and root/test once into uint8 tensors; cache them under `cache_dir`."""
    from resnet_exp.data.cache import cached

    root = Path(root).expanduser().resolve()
    splits = {s: root / s for s in ("train", "test")}
    missing = [str(p) for p in splits.values() if not p.is_dir()]
    if missing:
        raise UserError(
            f"image folder dataset not found: {', '.join(missing)} missing (expected ROOT/train/<class>/*.jpg and ROOT/test/<class>/*.jpg); set data.root"
        )
    listed = {s: list_image_folder(p) for s, p in splits.items()}
    classes = listed["train"][1]
    if not classes or not listed["train"][0]:
        raise UserError(f"no images under {splits['train']} (expected train/<class>/*.jpg)")
    if listed["test"][1] != classes:
        raise UserError(f"class folders differ between {splits['train']} and {splits['test']}")

    def decode() -> dict:
        tx, ty = _decode(listed["train"][0], image_size)
        vx, vy = _decode(listed["test"][0], image_size)
        arrays = {"train_x": tx, "train_y": ty, "test_x": vx, "test_y": vy}
        # Cached with the arrays, so later runs do not hash 180 MB again.
        return {**arrays, "fingerprint": content_fingerprint(arrays, classes)}

    files = [f for s in ("train", "test") for f, _ in listed[s][0]]
    arrays = cached(decode, files, image_size, cache_dir)
    fingerprint = arrays.get("fingerprint") or content_fingerprint(arrays, classes)
    return Dataset(
        f"imagefolder:{root.name}@{fingerprint}",
        arrays["train_x"],
        arrays["train_y"],
        arrays["test_x"],
        arrays["test_y"],
        classes,
    )


# --- synthetic: learnable random data of CIFAR's shape, for tests and quick runs ------------------


def make_synthetic(
    train_size: int = 512,
    test_size: int = 256,
    num_classes: int = 10,
    image_size: int = 32,
    seed: int = 0,
) -> Dataset:
    """Each class is a fixed random low-frequency colour pattern plus per-image noise."""
    g = torch.Generator().manual_seed(seed)
    patterns = torch.rand(num_classes, 3, 4, 4, generator=g) * 160 + 48
    patterns = torch.nn.functional.interpolate(
        patterns, size=image_size, mode="bilinear", align_corners=False
    )

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(num_classes, (n,), generator=g)
        noise = torch.randn(n, 3, image_size, image_size, generator=g) * 40
        return (patterns[y] + noise).clamp(0, 255).to(torch.uint8), y

    tx, ty = split(train_size)
    vx, vy = split(test_size)
    return Dataset("synthetic", tx, ty, vx, vy, [f"class{i}" for i in range(num_classes)])


def load_dataset(
    name: str,
    root: str | Path = "data",
    download: bool = True,
    verify: bool = True,
    image_size: int = 32,
    cache_dir: str | Path | None = None,
    synthetic_train_size: int = 512,
    synthetic_test_size: int = 256,
    num_classes: int = 10,
    seed: int = 0,
) -> Dataset:
    """Load one of SOURCES by name (the single entry point the trainer uses)."""
    if name in ("cifar10", "cifar100"):
        return load_cifar(name, root, download=download, verify=verify)
    if name == "imagefolder":
        return load_image_folder(root, image_size=image_size, cache_dir=cache_dir)
    if name == "synthetic":
        return make_synthetic(
            synthetic_train_size, synthetic_test_size, num_classes, image_size, seed
        )
    raise UserError(f"unknown data source {name!r}; choose one of {', '.join(SOURCES)}")
