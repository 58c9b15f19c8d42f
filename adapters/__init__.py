"""Adapters to outside libraries, installed as ``genaug.adapters``.

Each adapter imports its library lazily, so ``import genaug`` works without them:

* ``genaug.adapters.hf``: Hugging Face ``datasets`` (``pip install genaug[hf]``);
* ``genaug.adapters.torchvision``: torchvision data sets (``pip install genaug[vision]``).
"""
