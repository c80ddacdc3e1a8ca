import pytest
import torch


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


def hellokan_f(x):
    return torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)


def rmse(model, ds) -> float:
    with torch.no_grad():
        return float(((model(ds["test_input"]) - ds["test_label"]) ** 2).mean().sqrt())
