"""A name -> factory registry, shared by models, corpus readers and landmark backends."""

from __future__ import annotations

import importlib
from typing import Any, Callable

from lipauth.errors import InvalidInputError


class Registry:
    def __init__(self, kind: str, builtin_modules: tuple[str, ...]) -> None:
        """`builtin_modules` register themselves on import; they are imported on first use,
        so that importing lipauth does not load torch, dlib or mediapipe."""
        self.kind = kind
        self._builtin = builtin_modules
        self._factories: dict[str, Callable[..., Any]] = {}

    def register(self, name: str):
        def wrap(factory):
            self._factories[name] = factory
            return factory

        return wrap

    def names(self) -> list[str]:
        self._load()
        return sorted(self._factories)

    def get(self, name: str) -> Callable[..., Any]:
        self._load()
        if name not in self._factories:
            raise InvalidInputError(f"unknown {self.kind} {name!r}; choose one of {', '.join(sorted(self._factories))}")
        return self._factories[name]

    def _load(self) -> None:
        for module in self._builtin:
            importlib.import_module(module)
