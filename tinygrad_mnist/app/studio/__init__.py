"""The studio: a local web app over run folders (`tinygrad-mnist studio`).

    server.py       the command and the uvicorn server (binds 127.0.0.1 by default)
    api.py          the Starlette app: the page and the JSON API under /api/
    safety.py       only this machine's browser; the page loads only its own files
    runs.py         run folders and result stores under RUNS_DIR, read only, ids checked
    models.py       loaded models and test-set scores kept between requests
    model_view.py   one drawing through a model: probabilities, saliency, activations
    expression.py   the Autograd view's expressions, parsed with `ast`, never eval'd
    static/         the page: plain HTML, CSS and JavaScript, no build step, no CDN

Starlette and uvicorn come with the optional extra: pip install 'tinygrad-mnist[studio]'.
Nothing here is imported by the rest of the package.
"""
