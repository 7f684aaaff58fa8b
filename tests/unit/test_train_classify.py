"""python -m vtdemo.train classify on a generated image folder: learns, resumes, distils, exports a card."""
import json

import numpy as np
import pytest
from PIL import Image

from vtdemo.train.__main__ import main

TINY_VIT = {"family": "ViT", "timm_name": "vit_tiny_patch16_224",
            "kwargs": {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2}}
TINY_DEIT = dict(TINY_VIT, family="DeiT", timm_name="deit_tiny_distilled_patch16_224")


@pytest.fixture
def folder(tmp_path):
    """Two trivially separable classes: reddish and bluish noise."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("val", 6)):
        for cls, channel in (("n0001", 0), ("n0002", 2)):
            (tmp_path / "data" / split / cls).mkdir(parents=True)
            for i in range(n):
                arr = rng.integers(0, 90, (40, 40, 3), dtype=np.uint8)
                arr[..., channel] += 160
                Image.fromarray(arr).save(tmp_path / "data" / split / cls / f"{i}.png")
    for name, arch in (("vit.json", TINY_VIT), ("deit.json", TINY_DEIT)):
        (tmp_path / name).write_text(json.dumps(arch))
    return tmp_path


def run(folder, out, arch, epochs, *extra):
    return main(["classify", "--arch", arch, "--arch-json", str(folder / f"{arch}.json"), "--data",
                 str(folder / "data"), "--size", "32", "--epochs", str(epochs), "--batch", "8", "--workers", "0",
                 "--lr", "3e-3", "--warmup-epochs", "0", "--randaugment", "", "--out", str(out), *extra])


def test_learns_resumes_and_exports(folder):
    export = folder / "w" / "tiny-vit.safetensors"
    run(folder, folder / "a", "vit", 2)
    run(folder, folder / "a", "vit", 6, "--export", str(export), "--id", "tiny-vit")  # resumes after epoch 2
    log = [json.loads(line) for line in (folder / "a" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3, 4, 5, 6]
    card = json.loads(export.with_suffix(".json").read_text())
    assert card["val_top1"] == max(r["top1"] for r in log) >= 0.9  # reddish vs bluish
    assert card["classes"] == ["n0001", "n0002"] and card["epochs"] == 6
    assert card["command"].startswith("python -m vtdemo.train classify --arch vit")
    assert [r["top1"] for r in card["history"]] == [r["top1"] for r in log]  # the curve travels with the card
    from vtdemo.train.curves import table

    rows = table([card], every=2)
    assert rows[0].startswith("| model | epoch 2 | epoch 4 | epoch 6 | best")
    assert rows[2].startswith(f"| tiny-vit | {log[1]['top1']:.1%} | {log[3]['top1']:.1%} | {log[5]['top1']:.1%}")
    from safetensors.torch import load_file

    assert "head.weight" in load_file(str(export))


def test_deit_hard_distillation_from_a_teacher_file(folder):
    """The distillation head learns the teacher, the class head the labels: a teacher trained with the labels
    swapped makes the two heads disagree on every image."""
    import shutil

    import torch

    from vtdemo.classify.preprocess import preprocess
    from vtdemo.zoo.cards import Preprocess
    from vtdemo.zoo.demo_archs import build_classifier
    from vtdemo.zoo.weights import load_state_dict

    swapped = folder / "swapped"
    for split in ("train", "val"):  # reddish images filed as n0002, bluish as n0001
        shutil.copytree(folder / "data" / split / "n0001", swapped / split / "n0002")
        shutil.copytree(folder / "data" / split / "n0002", swapped / split / "n0001")
    teacher = folder / "teacher.safetensors"
    main(["classify", "--arch", "vit", "--arch-json", str(folder / "vit.json"), "--data", str(swapped), "--size",
          "32", "--epochs", "4", "--batch", "8", "--workers", "0", "--lr", "3e-3", "--warmup-epochs", "0",
          "--randaugment", "", "--out", str(folder / "t"), "--export", str(teacher)])
    # the student trains at 24 px; the 32-px teacher (its file names its size) sees 32-px crops, the student the
    # same crops downsampled (a fixed-size ViT teacher would refuse any other size)
    run(folder, folder / "s", "deit", 6, "--teacher", str(teacher), "--teacher-arch", "vit", "--arch-json",
        str(folder / "deit.json"), "--size", "24")
    from safetensors import safe_open

    with safe_open(str(folder / "s" / "best.safetensors"), "pt") as f:
        assert json.loads(f.metadata()["arch"])["kwargs"]["img_size"] == 24 and f.metadata()["size"] == "24"
        arch = json.loads(f.metadata()["arch"])
    student = build_classifier(arch, 2)
    student.load_state_dict(load_state_dict(folder / "s" / "best.safetensors"))
    student.eval()
    labels, cls_votes, dist_votes = [], [], []
    for index, name in enumerate(("n0001", "n0002")):
        for path in sorted((folder / "data" / "train" / name).iterdir()):
            x = preprocess(Image.open(path).convert("RGB"), Preprocess(size=24, crop_pct=0.875))[0]
            with torch.no_grad():  # each head on its own token (timm's eval forward averages them)
                tokens = student.forward_features(x)
                cls, dist = student.head(tokens[:, 0]), student.head_dist(tokens[:, 1])
            labels.append(index)
            cls_votes.append(int(cls.argmax()))
            dist_votes.append(int(dist.argmax()))
    labels, cls_votes, dist_votes = map(np.array, (labels, cls_votes, dist_votes))
    assert (cls_votes == labels).mean() >= 0.9  # the class token learnt the labels
    assert (dist_votes == 1 - labels).mean() >= 0.9  # the distillation token learnt the (swapped) teacher
    # a model with one head learns half from the labels, half from the teacher: with a teacher that says the
    # opposite of every label, the best it can do is to be unsure (a model ignoring the teacher would be sure)
    run(folder, folder / "one", "vit", 6, "--teacher", str(teacher), "--arch-json", str(folder / "vit.json"),
        "--size", "24")
    from vtdemo.train.common import load_state

    with safe_open(str(folder / "one" / "best.safetensors"), "pt") as f:
        one_head = build_classifier(json.loads(f.metadata()["arch"]), 2)
    one_head.load_state_dict(load_state(folder / "one" / "state.pt")["model"])  # the last epoch's weights
    one_head.eval()
    confidence = []
    for name in ("n0001", "n0002"):
        for path in sorted((folder / "data" / "train" / name).iterdir()):
            x = preprocess(Image.open(path).convert("RGB"), Preprocess(size=24, crop_pct=0.875))[0]
            with torch.no_grad():
                confidence.append(float(one_head(x).softmax(-1).max()))
    assert np.mean(confidence) < 0.75, np.mean(confidence)  # 0.53 here; 0.87 when the teacher is ignored


def test_curves_follow_a_card_back_through_its_stages():
    from vtdemo.train.curves import table, training_runs

    first = {"command": "python -m vtdemo.train classify --arch vit", "epochs": 2, "wall_time_s": 60, "val_top1": 0.5,
             "history": [{"epoch": 1, "top1": 0.4}, {"epoch": 2, "top1": 0.5}]}
    second = {"command": "… --init-from a", "epochs": 2, "wall_time_s": 120, "val_top1": 0.7, "init_from": first,
              "history": [{"epoch": 0, "top1": 0.5}, {"epoch": 1, "top1": 0.6}, {"epoch": 2, "top1": 0.7}]}
    shipped = {"id": "m", "epochs": 0, "wall_time_s": 5, "val_top1": 0.72, "init_from": second,  # a re-export
               "history": [{"epoch": 0, "top1": 0.72}]}
    runs = training_runs(shipped)
    assert [r["id"] for r in runs] == ["m (stage 1 of 2)", "m (stage 2 of 2)"]
    rows = table(runs, every=1)
    assert rows[2] == "| m (stage 1 of 2) | — | 40.0% | 50.0% | 50.0% | 1 min |"
    assert rows[3] == "| m (stage 2 of 2) | 50.0% | 60.0% | 70.0% | 70.0% | 2 min |"


def test_init_from_scores_the_start_and_reexports_at_another_size(folder):
    from safetensors.torch import load_file

    first = folder / "w" / "first.safetensors"
    run(folder, folder / "a", "vit", 2, "--export", str(first), "--id", "tiny")
    again = folder / "w" / "again.safetensors"
    run(folder, folder / "b", "vit", 0, "--init-from", str(first), "--export", str(again), "--id", "tiny")
    card, before = json.loads(again.with_suffix(".json").read_text()), json.loads(first.with_suffix(".json").read_text())
    # the same weights at the same size: the start is scored exactly as the first run scored its best epoch
    assert card["val_top1"] == before["val_top1"] and card["history"] == [{"epoch": 0, "seconds": card["history"][0]
                                                                           ["seconds"], "top1": before["val_top1"]}]
    assert card["init_from"]["command"] == before["command"] and card["init_from"]["epochs"] == 2
    a, b = load_file(str(first)), load_file(str(again))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)
    bigger = folder / "w" / "bigger.safetensors"
    run(folder, folder / "c", "vit", 0, "--init-from", str(first), "--size", "40", "--export", str(bigger))
    grid = load_file(str(bigger))["pos_embed"]
    assert grid.shape == (1, 1 + 5 * 5, 32) and a["pos_embed"].shape == (1, 1 + 4 * 4, 32)
    assert grid[0, 0].equal(a["pos_embed"][0, 0])  # the class token's embedding is not resampled
