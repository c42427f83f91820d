"""Learned codecs: rate-distortion transform coders, SSCNet in both variants and the VGG16 baseline.

Codecs (registry names):

``factorized``      bmshj2018-factorized (Ballé et al. 2018): GDN transforms + factorized prior
``hyperprior``      scale hyperprior (Ballé et al. 2018) / mean-scale (Minnen et al. 2018); seed 003's
                    band clusters on hyperspectral data (:mod:`.hyperprior`)
``sscnet``          SSCNet, fully convolutional "last conv" variant (La Grassa et al. 2022)
``sscnet-linear``   SSCNet with a linear bottleneck (``layout=lombardia|virtis``)
``cae1d``, ``hycot``, ``s2cnet``, ``cnn-lstm-ae``, ``two-path-ae``
                    the seed systems and HySpecNet-11k's spectral anchors on the rate-distortion
                    core (:mod:`.seedcodecs`; networks in :mod:`.spectral`, :mod:`.hybrid`,
                    rate-distortion wrappers in :mod:`.seedmodels`)
``vgg16-baseline``  VGG16 encoder + small CNN decoder, the paper's "GNN model" baseline
                    (a reimplementation from the description; no public code or weights)

Parameters of the autoencoders (``sscnet``, ``sscnet-linear``, ``vgg16-baseline``): ``latent`` (the rate
knob: latent channels or units; every value is its own model), ``entropy`` (``minmax``, the published
post-hoc quantiser, or ``factorized``: the factorized prior on the latent, trained on R + lambda D,
rate knob ``lmbda``; :mod:`.base`), ``bits`` (``minmax``: quantisation bits per latent value, 1..16, default 8),
``checkpoint`` (path, or None to quick-train), ``device`` (``auto`` = CUDA when
available, ``cpu``, ``cuda[:N]``), ``batch`` (tiles per forward pass) and the
architecture of quick models (``tile``, ``width``, and ``fc`` for the VGG16).

Rates are real: the stream is the range-coded, quantised latent plus per-channel
constants (:mod:`.latent`), framed like every hsbench stream; decoding needs the
bytes and the checkpoint only, on any device. Rows also carry the paper-style
``nominal_cr`` / ``nominal_bpppc`` (latent counted as float32), ``quick_trained``,
``checkpoint``, ``device`` and the parameter counts.

Typical use::

    hsbench run --codecs sscnet,jpeg2000 --dataset kodak     # quick-trains on `samples`, cached
    hsbench train sscnet --dataset samples-train --latent 16 --epochs 200 --out sscnet16.pt
    hsbench train sscnet --paper --dataset DATA --split train --device cuda --out virtis.pt

The rate-distortion core: :mod:`.gdn`, :mod:`.entropy_models` (factorized prior, indexed
Gaussian conditional, integer-table range coding), :mod:`.rdmodels` (the networks),
:mod:`.transform` (the codec: per-band scaling, band clusters, tiles, stream) and
:mod:`.rdtrain` (``R + lambda D``). Which model a job uses is decided at planning time by
:mod:`.models` (explicit checkpoint, shipped model, cache, or a quick training), from
recipes in ``recipes/`` (``hsbench train --recipe NAME``).

Environment: ``HSBENCH_QUICK_TRAIN_STEPS`` bounds quick training (steps, never time);
``HSBENCH_CACHE_DIR`` moves the model cache (:mod:`.quick`).
Quick models use a short-budget recipe (MSE, Adam 5e-3 with warm-up and cosine, gradient
clipping, batch 8) and validate on a held-out training image with the benchmark's own
PSNR; ``hsbench train`` keeps the paper's recipe (BCE, Adam 1e-4, cosine). Rows record
the loss (``train_loss_fn``), the steps and the validation PSNR of the model.

Modules: :mod:`.base` (the shared codec: normalisation, tiling, device, batched
inference, bitstream), :mod:`.tiling`, :mod:`.latent` (quantisation + range
coding), :mod:`.checkpoint`, :mod:`.device`, :mod:`.sscnet`, :mod:`.vgg16_baseline`,
:mod:`.train` (``hsbench train``) and :mod:`.quick` (quick-trained, cached models
for ``hsbench run``). Nothing here imports torch at import time.

The CUDA path is written to be correct by construction (every tensor is moved to the
model's device, results come back with ``.to("cpu")``, checkpoints hold CPU tensors
and load with ``map_location="cpu"``, the stream holds integers and float32 constants
only) but was not run on a GPU while this was written.
"""
