import os

import pytest
import torch

import kansci as ks


def _model():
    model = ks.MultKAN([3, [2, 1], 1], grid=4, seed=0, dtype=torch.float64, in_vars=["a", "b", "c"])
    model.fix_symbolic(0, 1, 2, "exp", fit_params=False, affine=(0.5, 0.1, 2.0, -1.0))
    return model


def test_round_trip_keeps_outputs_symbolic_edges_and_names(tmp_path):
    model = _model()
    x = torch.rand(40, 3, dtype=torch.float64)
    model.update_grid(x)
    path = tmp_path / "m.kan"
    model.save(path)
    assert os.listdir(tmp_path) == ["m.kan"]  # atomic write leaves no temporaries
    back = ks.MultKAN.load(path)
    assert torch.equal(back(x), model(x))
    assert back.layers[0].sym_names[1][2] == "exp" and back.in_vars == ["a", "b", "c"]
    assert back.dtype == torch.float64 and back.width == model.width


def test_round_trip_after_prune_input(tmp_path):
    model = _model()
    x = torch.rand(60, 3, dtype=torch.float64)
    small = model.prune_input(active_inputs=[0, 2], x=x)
    small.save(tmp_path / "s.kan")
    back = ks.MultKAN.load(tmp_path / "s.kan")
    assert torch.equal(back(x), small(x))


def test_truncated_foreign_and_missing_files_are_clear_errors(tmp_path):
    path = tmp_path / "m.kan"
    _model().save(path)
    data = path.read_bytes()
    (tmp_path / "cut.kan").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        ks.MultKAN.load(tmp_path / "cut.kan")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a kansci model file"):
        ks.MultKAN.load(tmp_path / "other.pt")
    (tmp_path / "text.kan").write_text("hello")
    with pytest.raises(ValueError, match="kansci model file"):
        ks.MultKAN.load(tmp_path / "text.kan")
    with pytest.raises(FileNotFoundError):
        ks.MultKAN.load(tmp_path / "absent.kan")


def test_nothing_written_unless_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ds = ks.create_dataset(lambda x: x[:, [0]] ** 2, n_var=1, train_num=50, test_num=20)
    model = ks.MultKAN([1, 2, 1])
    model.fit(ds, steps=2, progress=False)
    model.prune().refine(5)
    assert os.listdir(tmp_path) == []
