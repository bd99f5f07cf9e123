"""Run another tools/ script with torchvision's meta registrations skipped.

PyPI's torchvision 0.28.0 (pulled in by pytorch-fid / torch-fidelity) is a CUDA build whose meta
registrations fail against torch 2.13.0+cpu, and then `import diffusers` fails too ("operator
torchvision::nms does not exist"). Scripts that import diffusers and were written before torchvision
was installed run unchanged through this wrapper; nothing they compute on the CPU depends on it.

Command: python3 tools/cpu_torchvision.py tools/make_goldens.py --check
"""
import runpy
import sys
import types

if len(sys.argv) < 2:
    sys.exit(__doc__)
sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
