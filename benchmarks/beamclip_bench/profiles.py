"""Benchmark profiles: the budget every row of one run shares.

`quick` fits a 2-core CPU in about an hour (see docs/benchmark.md for the
budget); `long` is `quick` at 4x the epochs; `full` is for a GPU; `demo` is
tools/demo.py (a first run within 10 minutes on 2 cores); `smoke` is the CI
plumbing test (a handful of images, a few iterations). `num_views`: views
per image in the teacher-target cache (replayed one per epoch);
`stock_probe`: also run the stock SGD linear probe through train.py;
`curve_every`: probe a checkpoint every so many epochs on the held-out split
(first seed); `proxy_templates`: the ImageNet prompt templates the proxy's
projections are fitted on (the demo's one template saves ~6,000 MiniLM
passes).
"""

QUICK = dict(
    img_size=64,
    teacher_size=128,
    epochs=4,
    batch_size=64,
    lr=0.05,
    train_per_class=300,
    probe_per_class=100,
    heldout_per_class=100,
    probe_epochs=10,
    val_per_class=200,
    seeds=[0, 1, 2],
    num_views=8,
    stock_probe=True,
    proxy_max_images=3000,
    proxy_steps=1500,
    proxy_templates='simple_imagenet',
    proxy_max_classes=None,
    num_workers=2)

PROFILES = dict(
    quick=QUICK,
    # Long enough for the rows to separate (the teacher-target cache makes
    # the teacher a one-off cost, so a longer schedule costs only student
    # steps). Same data, proxy and cache as `quick`; the converged probe
    # only, with a held-out probe curve.
    long=dict(QUICK, epochs=16, stock_probe=False, curve_every=4),
    full=dict(
        QUICK,
        img_size=128,
        epochs=100,
        batch_size=256,
        lr=0.2,
        train_per_class=None,
        probe_per_class=None,
        heldout_per_class=50,
        probe_epochs=100,
        val_per_class=None,
        num_views=10,
        proxy_max_images=9469,
        proxy_steps=3000,
        num_workers=8),
    demo=dict(
        QUICK,
        img_size=32,
        teacher_size=64,
        epochs=5,
        train_per_class=None,
        heldout_per_class=None,
        val_per_class=None,
        seeds=[0],
        num_views=5,
        stock_probe=False,
        proxy_max_images=1000,
        proxy_steps=500,
        proxy_templates='vanilla',
        num_workers=1),
    smoke=dict(
        QUICK,
        img_size=32,
        teacher_size=32,
        epochs=1,
        batch_size=4,
        train_per_class=4,
        probe_per_class=4,
        heldout_per_class=2,
        probe_epochs=1,
        val_per_class=2,
        seeds=[0],
        num_views=2,
        proxy_max_images=8,
        proxy_steps=5,
        proxy_templates='vanilla',
        proxy_max_classes=50,
        num_workers=0),
)
