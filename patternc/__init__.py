"""patternc: a compiler for attention patterns.

    source --parse--> syntax tree --check--> checked IR --codegen--> Triton module
    (block classification and plans run in the module, per sizes and params)

Front door:
    patternc.check_source(text)   -> checked patterns (or PatterncError)
    patternc.compile_source(text) -> the generated module's source
    patternc.load("file.attn")    -> the compiled module, cached
"""
__version__ = "0.1.0"

from .diagnostics import PatterncError  # noqa: E402


def __getattr__(name):
    # Lazy: `import patternc` stays light (no torch import) until a stage is used.
    if name in ("check_source", "compile_source"):
        from . import pipeline
        return getattr(pipeline, name)
    if name in ("load", "load_source", "compile_file"):
        from . import loader
        return getattr(loader, name)
    raise AttributeError(f"module 'patternc' has no attribute {name!r}")
