import pytest
import torch

from lusfeat.seg import UNet, UNetConfig
from lusfeat.seg._fast import fold_batchnorm, prepare_inference


def _trained_like(cfg):
    torch.manual_seed(0)
    net = UNet(cfg)
    # give BatchNorm non-trivial statistics, as after training
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net.eval()


@pytest.mark.parametrize("cfg", [UNetConfig(depth=1, width=4), UNetConfig(depth=3, width=8)])
def test_folded_network_matches(cfg):
    net = _trained_like(cfg)
    folded = fold_batchnorm(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # input untouched
    x = torch.randn(2, 1, 40, 36)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), net(x), rtol=1e-4, atol=1e-4)


def test_prepare_inference_cpu_bf16():
    net = _trained_like(UNetConfig(depth=2, width=4))
    model = prepare_inference(net, torch.device("cpu"), bf16=True)
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        y = model(x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last))
        ref = net(x)
    assert y.dtype == torch.bfloat16
    assert (torch.sigmoid(y.float()) - torch.sigmoid(ref)).abs().max() < 0.05
