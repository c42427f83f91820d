"""Learned (autoencoder) codecs: SSCNet in both variants and the VGG16 baseline of the SSCNet paper.

Modules: :mod:`.base` (the shared codec: normalisation, tiling, device, batched
inference, bitstream), :mod:`.tiling`, :mod:`.latent` (quantisation + range
coding), :mod:`.checkpoint`, :mod:`.device`, :mod:`.sscnet`, :mod:`.vgg16_baseline`,
:mod:`.train` (``hsbench train``) and :mod:`.quick` (quick-trained, cached models
for ``hsbench run``). Nothing here imports torch at import time.
"""
