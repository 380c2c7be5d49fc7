from setuptools import setup

# The C core and its cffi binding are built from native/ (see pyedge/_build.py).
setup(cffi_modules=["pyedge/_build.py:ffibuilder"])
