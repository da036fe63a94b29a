"""Nodes called directly run as ComfyUI runs them: under torch.inference_mode."""

import pytest
import torch


@pytest.fixture(autouse=True)
def inference_mode():
    with torch.inference_mode():
        yield
