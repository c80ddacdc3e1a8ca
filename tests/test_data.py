import pytest
import torch

import kansci as ks


def test_create_dataset_is_seeded_and_pykan_shaped():
    f = lambda x: x[:, 0] * x[:, 1]  # noqa: E731 (returns (N,): becomes (N, 1))
    a = ks.create_dataset(f, n_var=2, ranges=[[0, 1], [-2, -1]], train_num=50, test_num=30, seed=3)
    b = ks.create_dataset(f, n_var=2, ranges=[[0, 1], [-2, -1]], train_num=50, test_num=30, seed=3)
    assert a["train_input"].shape == (50, 2) and a["test_label"].shape == (30, 1)
    assert torch.equal(a["train_input"], b["train_input"])
    x = a["train_input"]
    assert (x[:, 0] >= 0).all() and (x[:, 0] <= 1).all() and (x[:, 1] <= -1).all()
    assert torch.allclose(a["train_label"][:, 0], x[:, 0] * x[:, 1])


def test_create_dataset_errors():
    with pytest.raises(ValueError, match="NaN or inf"):
        ks.create_dataset(lambda x: torch.log(x[:, [0]]), n_var=1, ranges=[-1, 1])
    with pytest.raises(ValueError, match="ranges"):
        ks.create_dataset(lambda x: x, n_var=2, ranges=[1, -1])
    with pytest.raises(ValueError, match="n_var"):
        ks.create_dataset(lambda x: x, n_var=0)
