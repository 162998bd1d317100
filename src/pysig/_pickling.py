"""Pickling interpreters, pools and runners as their verified model and options.

A pickle carries the model bytes pysig verified and the keyword options the object
was built with, never a path (the file may not exist where it is unpickled) nor a
native pointer. Unpickling builds a working object with the same options, on the
runtime the original resolved to when that runtime is installed there.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from .errors import ClosedError, PysigError, UnpicklableError
from .model import Model

if TYPE_CHECKING:
    from .interpreter import Interpreter
    from .pool import Pool
    from .signature_runner import SignatureRunner

T = TypeVar("T")


class Recipe:
    """What rebuilds an interpreter in another process: its verified model and options.

    Objects unpickled from one pickle share their recipe, so a runner pickled along
    with its interpreter comes back as a runner of that same new interpreter.
    """

    __slots__ = ("__weakref__", "_built", "model", "options", "resolved_runtime")

    def __init__(
        self, model: Model, options: dict[str, Any], resolved_runtime: str | None = None
    ) -> None:
        self.model = model
        self.options = options
        # "auto" picks whichever runtime is installed; a pickle prefers the one the
        # original used, so results do not change with the worker's packages.
        self.resolved_runtime = resolved_runtime
        self._built: weakref.ref[Interpreter] | None = None

    def __getstate__(self) -> tuple[Model, dict[str, Any], str | None]:
        # Not even in messages: the path means nothing where the pickle is loaded.
        model = self.model._replace(source="the unpickled model")
        return model, self.options, self.resolved_runtime

    def __setstate__(self, state: tuple[Model, dict[str, Any], str | None]) -> None:
        self.model, self.options, self.resolved_runtime = state
        self._built = None

    def interpreter(self) -> Interpreter:
        """The interpreter built from this recipe in this process, built on first use."""
        built = self._built() if self._built is not None else None
        if built is None or built.closed:
            built = self._build()
            self._built = weakref.ref(built)
        return built

    def _build(self) -> Interpreter:
        from .interpreter import Interpreter

        return self.build(lambda chosen: Interpreter._from_model(self.model, **chosen))

    def build(self, make: Callable[[dict[str, Any]], T]) -> T:
        """``make(options)``, on the resolved runtime if it is installed here."""
        if self.resolved_runtime is None or self.options.get("runtime", "auto") != "auto":
            return make(self.options)
        try:
            return make({**self.options, "runtime": self.resolved_runtime})
        except (ImportError, PysigError):
            # That runtime is missing here: let "auto" choose, as the original was asked to.
            return make(self.options)


def recipe_for_pickle(recipe: Recipe | None, closed: bool, what: str) -> Recipe:
    """The recipe to pickle an object by, or a clear error if it cannot be pickled."""
    if closed:
        raise ClosedError(f"cannot pickle {what}: it has been closed")
    if recipe is None:
        raise UnpicklableError(
            f"cannot pickle {what}: it wraps a tflite_runtime interpreter (from_tflite), "
            "built with options pysig cannot know; build it with pysig.Interpreter(...)"
        )
    if recipe.options.get("delegates"):
        raise UnpicklableError(
            f"cannot pickle {what}: it was built with delegates, which are native objects "
            "of this process; build it where it runs instead"
        )
    return recipe


def rebuild_interpreter(recipe: Recipe) -> Interpreter:
    return recipe.interpreter()


def rebuild_runner(recipe: Recipe, signature_key: str) -> SignatureRunner:
    return recipe.interpreter().get_signature_runner(signature_key)


def rebuild_pool(recipe: Recipe, size: int) -> Pool:
    from .pool import Pool

    # Pool verifies the bytes again: a few milliseconds, once per pool.
    return recipe.build(
        lambda options: Pool(model_content=recipe.model.content, size=size, **options)
    )


def refuse_views(what: str) -> UnpicklableError:
    return UnpicklableError(
        f"cannot pickle {what}: zero-copy views belong to one process's tensor memory; "
        "pickle a copy (numpy.array(view)) or the runner itself"
    )
