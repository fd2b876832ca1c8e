import pytest
import torch

from lusfeat._errors import InputError
from lusfeat.seg import UNet, UNetConfig


@pytest.mark.parametrize(
    "depth, shape",
    [(1, (1, 1, 8, 8)), (2, (2, 1, 37, 50)), (3, (1, 1, 65, 63)), (4, (3, 1, 5, 7)), (3, (1, 1, 128, 96))],
)
def test_output_shape_any_size(depth, shape):
    net = UNet(UNetConfig(depth=depth, width=4)).eval()
    with torch.no_grad():
        y = net(torch.randn(shape))
    assert y.shape == (shape[0], 5, shape[2], shape[3])
    assert torch.isfinite(y).all()


def test_anchor_configuration_size():
    # the 4-pooling, 32-channel U-Net of the speed anchors has 7.8 M parameters
    assert UNetConfig(depth=4, width=32).n_parameters() == pytest.approx(7.8e6, rel=0.01)
    assert UNetConfig().n_parameters() < 2.5e6  # small by default


def test_fresh_network_predicts_sparse_foreground():
    net = UNet(UNetConfig(depth=2, width=4)).eval()
    with torch.no_grad():
        p = torch.sigmoid(net(torch.randn(2, 1, 32, 32)))
    assert p.mean() < 0.2


def test_channels_last_matches_contiguous():
    torch.manual_seed(0)
    net = UNet(UNetConfig(depth=2, width=4)).eval()
    x = torch.randn(2, 1, 24, 24)
    with torch.no_grad():
        a = net(x)
        b = net.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kwargs", [{"depth": 0}, {"depth": 7}, {"width": 0}, {"out_channels": 0}, {"depth": 2.5}])
def test_config_validation(kwargs):
    with pytest.raises(InputError, match="UNetConfig"):
        UNetConfig(**kwargs)


def test_config_round_trip():
    cfg = UNetConfig(depth=3, width=8)
    assert UNetConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(InputError, match="invalid model config"):
        UNetConfig.from_dict({"depth": 3, "colour": 1})
