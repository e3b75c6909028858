"""lipauth: lip-based biometric authentication.

    import lipauth
    model = lipauth.load_model("runs/v2/model.pt")
    verifier = lipauth.Verifier(model, lipauth.TemplateStore("templates.db", create=True))
"""

__version__ = "0.1.0"

# Resolved on first use, so `import lipauth` stays cheap (no torch, dlib or SQLAlchemy).
_LAZY = {
    "load_model": ("lipauth.api", "load_model"),
    "LipModel": ("lipauth.api", "LipModel"),
    "Verifier": ("lipauth.auth.verifier", "Verifier"),
    "Decision": ("lipauth.auth.verifier", "Decision"),
    "TemplateStore": ("lipauth.auth.store", "TemplateStore"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'lipauth' has no attribute {name!r}")
