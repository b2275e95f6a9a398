# The router on a GPU host: vLLM's official OpenAI image (same vLLM as the `vllm` extra), our package on top.
#   docker build -t agent-router .
#   docker run --gpus all -p 8000:8000 -v /srv/models:/models:ro -v /srv/adapters:/adapters:ro agent-router
# The model and adapters come from volumes (or any path/hub id via ROUTER_VLLM_* settings); none are baked in.
FROM vllm/vllm-openai:v0.33.0

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# vLLM, torch and CUDA come with the image; install only what the router adds. llama-cpp-python and the
# embedded GGUF (the CPU engine's dependencies) are left out: this image serves with the vllm engine.
WORKDIR /opt/agent-router
COPY pyproject.toml README.md ./
COPY contract ./contract
COPY service ./service
COPY datagen ./datagen
COPY training ./training
COPY tool_executors ./tool_executors
COPY router_cli ./router_cli
RUN python3 -m pip install --no-cache-dir --no-deps . \
    && python3 -m pip install --no-cache-dir \
        "pydantic-settings>=2.6" "prometheus-client>=0.21" "typer>=0.15" "httpx>=0.27" "jinja2>=3.1" \
        "llguidance>=1.0" "uvicorn[standard]>=0.32" "fastapi>=0.115" \
    && python3 -c "import service.engines.vllm, vllm; print('router on vllm', vllm.__version__)"

# Non-root: the model is read from volumes, caches go to the user's home.
RUN useradd --create-home --uid 10001 --user-group router \
    && mkdir -p /models /adapters \
    && chown router:router /models /adapters
USER 10001
ENV HOME=/home/router \
    HF_HOME=/home/router/.cache/huggingface \
    ROUTER_ENGINE=vllm \
    ROUTER_HOST=0.0.0.0 \
    ROUTER_PORT=8000 \
    ROUTER_VLLM_MODEL=/models/base \
    ROUTER_VLLM_ADAPTERS={} \
    ROUTER_VLLM_BACKEND=guidance
VOLUME ["/models", "/adapters"]
EXPOSE 8000

# /ready turns 200 once the model is loaded and warmed up; loading an 8B model takes minutes.
HEALTHCHECK --interval=15s --timeout=5s --start-period=600s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4)"]

ENTRYPOINT ["router", "serve"]
