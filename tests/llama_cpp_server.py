"""`python -m llama_cpp.server` with llama.cpp's extra CPU buffer types off (service/engines/llama_load.py):
the stand-in OpenAI-compatible server of the remote-engine and data-generator tests, safe on AMX VMs."""

import runpy

from service.engines.llama_load import extra_cpu_buffers_off

if __name__ == "__main__":
    with extra_cpu_buffers_off():
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
