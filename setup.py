"""Build hook for the one C extension; everything else is configured in pyproject.toml.

``sim.fix._ccodec`` (the FIX codec's hot loops, see sim/fix/_ccodec.c) is optional: without a C
compiler the install still succeeds and sim/fix/codec.py runs its pure-Python path.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("sim.fix._ccodec", ["sim/fix/_ccodec.c"], optional=True,
                             extra_compile_args=["-O2"])])
