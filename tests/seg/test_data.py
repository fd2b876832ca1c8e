import numpy as np
import torch

from lusfeat.data import open_cohort
from lusfeat.labels import parse_strategy
from lusfeat.seg._augment import augment
from lusfeat.seg._data import load_frames, resize_area


def test_targets_keep_thin_structures_when_shrunk(small_cohort):
    cohort = open_cohort(small_cohort)
    idx = np.arange(cohort.n_frames)
    strat = parse_strategy("threshold:60")
    full, _ = strat.targets(np.asarray(cohort.confidence[:]))
    data = load_frames(cohort, idx, strat, (16, 16))
    small = data.target.float() / 255
    assert data.images.shape == (cohort.n_frames, 1, 16, 16) and data.images.dtype == torch.uint8
    # the positive share of each class is preserved (area averaging of the full-size target)
    np.testing.assert_allclose(small.mean(dim=(0, 2, 3)).numpy(), full.mean(axis=(0, 2, 3)), atol=2e-3)
    # the 2-pixel pleural line survives at half resolution
    assert (small[:, 0].amax(dim=(1, 2)) >= 0.5).all()


def test_resize_area_exact_on_blocks():
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, :2, :2] = 1.0
    x[0, 0, 2, 3] = 1.0
    y = resize_area(x, (2, 2))
    torch.testing.assert_close(y[0, 0], torch.tensor([[1.0, 0.0], [0.0, 0.25]]))
    assert resize_area(y, (4, 4)).shape == (1, 1, 4, 4)


def test_augment_never_flips_vertically():
    x = torch.zeros(8, 1, 32, 32)
    x[:, :, 4:6, :] = 1.0  # a horizontal line near the top (like the pleura)
    t = x.repeat(1, 5, 1, 1)
    w = torch.ones_like(t)
    gen = torch.Generator().manual_seed(0)
    xa, ta, wa = augment(x, t, w, gen)
    assert xa.shape == x.shape and ta.shape == t.shape and wa.shape == w.shape
    rows = ta[:, 0].sum(dim=2).argmax(dim=1)
    assert (rows < 10).all()  # stays near the top: shifts and scaling only, no vertical flip
    assert (wa <= 1).all() and (wa >= 0).all() and (wa < 1).any()  # pixels from outside get weight 0


def test_staple_targets_use_the_whole_selection(small_cohort, monkeypatch):
    from lusfeat.labels import fuse
    from lusfeat.seg import _data

    cohort = open_cohort(small_cohort)
    monkeypatch.setattr(_data, "READ_CHUNK", 3)  # several chunks
    strat = parse_strategy("soft@staple")
    data = load_frames(cohort, np.arange(cohort.n_frames), strat, (32, 32))
    expected = fuse(np.asarray(cohort.confidence[:]), "staple") / 100  # one EM over everything
    np.testing.assert_allclose(data.target.float().numpy() / 255, expected, atol=1 / 255)
