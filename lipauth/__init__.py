"""lipauth: lip-based biometric authentication.

    import lipauth
    lipauth.verify_files("a.mp4", "b.mp4")          # a Decision: accepted, llr, modality_scores
    lipauth.find("probe.mp4", "people/")            # the people of a folder, ranked: Decisions
    model = lipauth.load_model()                    # the bundled model (lips + voice + face)
    verifier = lipauth.Verifier(model, lipauth.TemplateStore("templates.db", create=True))
"""

__version__ = "0.1.0"

# Resolved on first use, so `import lipauth` stays cheap (no torch, dlib or SQLAlchemy).
_LAZY = {
    "load_model": ("lipauth.api", "load_model"),
    "LipModel": ("lipauth.api", "LipModel"),
    "Verifier": ("lipauth.auth.verifier", "Verifier"),
    "Decision": ("lipauth.auth.decision", "Decision"),
    "verify_files": ("lipauth.quick", "verify_files"),
    "find": ("lipauth.quick", "find"),
    "TemplateStore": ("lipauth.auth.store", "TemplateStore"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'lipauth' has no attribute {name!r}")
