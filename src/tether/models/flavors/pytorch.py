"""PyTorch modules as TorchScript, or as a state dict with a class reference.

The option ``save_as`` chooses the format:

- ``"script"`` (the default): ``torch.jit.script`` compiles the module.
- ``"trace"``: ``torch.jit.trace`` records the module on the input example,
  so control flow that depends on the data is fixed to the example's path.
- ``"state_dict"``: the weights, with the class as ``module:qualname`` and
  its constructor's keyword arguments (option ``init_kwargs``, JSON). Loading
  imports the class, builds it, and reads the weights with
  ``torch.load(..., weights_only=True)``, which reads tensors only.

Loading runs no code from the files in any format: TorchScript runs in
PyTorch's interpreter, and a state dict contains tensors only. Everything runs
on the CPU. A model takes the signature's columns, in order, as one float32
tensor of shape ``[rows, columns]``.
"""

from __future__ import annotations

import importlib
import io
import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tether.errors import ConfigError
from tether.models.flavors.base import Flavor, ModelFiles

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from tether.models.signature import Signature

SCRIPT_FILE = "model.pt"
STATE_DICT_FILE = "state_dict.pt"
FORMATS = ("script", "trace", "state_dict")
# Signature input types that convert to float32; "tensor" is an N-D array input.
_NUMERIC_TYPES = ("integer", "float", "boolean", "tensor")


class PyTorchFlavor(Flavor):
    """``torch.nn.Module`` subclasses, as TorchScript or as a state dict."""

    name = "pytorch"
    extra = "torch"
    packages: ClassVar[tuple[str, ...]] = ("torch", "numpy", "pandas")
    option_names: ClassVar[tuple[str, ...]] = ("save_as", "init_kwargs")

    def matches(self, model: Any) -> bool:
        return any(
            cls.__module__ == "torch.nn.modules.module" and cls.__qualname__ == "Module"
            for cls in type(model).__mro__
        )

    def can_predict(self, model: Any) -> bool:
        return True

    def save(
        self,
        model: Any,
        folder: Path,
        *,
        signature: Signature | None = None,
        example: pd.DataFrame | None = None,
    ) -> dict[str, Any]:
        import torch

        save_as = self.options.get("save_as", "script")
        if save_as not in FORMATS:
            raise ConfigError(
                f"invalid save_as {save_as!r} for the pytorch flavor; use one of "
                f"{', '.join(FORMATS)}",
                setting="save_as",
                value=save_as,
            )
        _check_numeric(signature)
        meta: dict[str, Any] = {"format": save_as, "torch": torch.__version__}
        if save_as == "state_dict":
            meta.update(self._save_state_dict(model, folder))
            return meta
        scripted = _script(model) if save_as == "script" else _trace(model, example)
        with _quiet_torchscript():
            torch.jit.save(scripted, str(folder / SCRIPT_FILE))
        meta["file"] = SCRIPT_FILE
        return meta

    def _save_state_dict(self, model: Any, folder: Path) -> dict[str, Any]:
        import torch

        reference = _class_reference(type(model))
        init_kwargs = self.options.get("init_kwargs", {})
        try:
            json.dumps(init_kwargs)
        except TypeError as exc:
            raise ConfigError(
                f"init_kwargs must be JSON (strings, numbers, lists, dicts): {exc}",
                setting="init_kwargs",
                value=repr(init_kwargs),
            ) from exc
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        data = buffer.getvalue()
        # Rebuild the module now, so that wrong init_kwargs fail at registration
        # and not when the version is loaded.
        _rebuild(type(model), init_kwargs, data)
        (folder / STATE_DICT_FILE).write_bytes(data)
        return {"file": STATE_DICT_FILE, "class": reference, "init_kwargs": init_kwargs}

    def load(
        self, files: ModelFiles, meta: Mapping[str, Any], *, trusted: Sequence[str]
    ) -> Any:
        import torch

        save_as = meta.get("format")
        if save_as == "state_dict":
            module_class = _import_class(str(meta.get("class")))
            data = files.read(meta.get("file", STATE_DICT_FILE))
            return _rebuild(module_class, meta.get("init_kwargs", {}), data)
        if save_as not in ("script", "trace"):
            raise ConfigError(
                f"unknown pytorch format {save_as!r} in the version's metadata; "
                f"the flavor loads {', '.join(FORMATS)}",
                setting="format",
                value=save_as,
            )
        archive = io.BytesIO(files.read(meta.get("file", SCRIPT_FILE)))
        with _quiet_torchscript():
            module = torch.jit.load(archive, map_location="cpu")  # type: ignore[no-untyped-call]
        return module.eval()

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        """Run the module in eval mode without gradients on the frame as float32."""
        import torch

        inputs = _tensor(frame)
        was_training = bool(model.training)
        model.eval()
        try:
            with torch.no_grad():
                outputs = model(inputs)
        finally:
            model.train(was_training)
        if not isinstance(outputs, torch.Tensor):
            raise TypeError(
                f"the module returned a {type(outputs).__name__}; the pytorch flavor "
                "needs forward to return one tensor"
            )
        array: np.ndarray = outputs.detach().cpu().numpy()
        return array

    def predict_proba(self, model: Any, frame: pd.DataFrame) -> np.ndarray | None:
        return None


def _tensor(data: pd.DataFrame | np.ndarray) -> Any:
    """Return a frame (columns in the frame's order) or an array as float32."""
    import numpy as np
    import pandas as pd
    import torch

    if isinstance(data, pd.DataFrame):
        others = [
            f"{label!r} ({data[label].dtype})"
            for label in data.columns
            if not pd.api.types.is_numeric_dtype(data[label].dtype)
        ]
        if others:
            raise TypeError(
                "the pytorch flavor feeds the columns as one float32 tensor, so "
                f"every column must be a number or a boolean, not {', '.join(others)}"
            )
        # torch.tensor copies, because pandas may return a read-only view.
        return torch.tensor(data.to_numpy(dtype=np.float32, na_value=np.nan))
    if isinstance(data, np.ndarray):
        return torch.tensor(data.astype(np.float32))
    raise TypeError(
        f"the pytorch flavor takes a DataFrame or one array, not a "
        f"{type(data).__name__}"
    )


def _check_numeric(signature: Signature | None) -> None:
    if signature is None:
        return
    others = [spec for spec in signature.inputs if spec.type not in _NUMERIC_TYPES]
    if others:
        listed = ", ".join(f"{spec.name!r} ({spec.type})" for spec in others)
        raise ConfigError(
            f"the pytorch flavor feeds the columns as one float32 tensor, so every "
            f"column must be a number or a boolean, not {listed}; encode those "
            "columns as numbers before registering",
            setting="signature",
            value=others[0].name,
        )


@contextmanager
def _quiet_torchscript() -> Iterator[None]:
    """Hide PyTorch's deprecation warning for the TorchScript calls made here.

    NOTE: torch 2.13 deprecates ``torch.jit.script``, ``trace``, ``save`` and
    ``load`` in favor of ``torch.export``; they still work, and ``save_as=
    'state_dict'`` avoids them.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"`torch\.jit\.\w+` is deprecated",
            category=DeprecationWarning,
        )
        yield


def _script(model: Any) -> Any:
    import torch

    try:
        with _quiet_torchscript():
            return torch.jit.script(model)
    # TorchScript's compiler raises RuntimeError, NotSupportedError, TypeError
    # and others for Python it cannot compile.
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ConfigError(
            f"torch.jit.script cannot compile the {type(model).__qualname__} "
            f"({type(exc).__name__}: {first_line}); pass flavor_options="
            "{'save_as': 'trace'} to trace it on the input example, or "
            "{'save_as': 'state_dict', 'init_kwargs': {...}} to store its weights",
            setting="save_as",
            value="script",
        ) from exc


def _trace(model: Any, example: pd.DataFrame | None) -> Any:
    import torch

    if example is None:
        raise ConfigError(
            "save_as='trace' runs the module on the input example; pass "
            "input_example=...",
            setting="save_as",
            value="trace",
        )
    was_training = bool(model.training)
    model.eval()
    try:
        with torch.no_grad(), _quiet_torchscript():
            return torch.jit.trace(model, _tensor(example))  # type: ignore[no-untyped-call]
    finally:
        model.train(was_training)


def _class_reference(module_class: type) -> str:
    """Return ``module:qualname`` of a class that can be imported by that name."""
    reference = f"{module_class.__module__}:{module_class.__qualname__}"
    found = None
    if module_class.__module__ != "__main__":
        try:
            found = _import_class(reference)
        except ConfigError:
            found = None
    if found is not module_class:
        raise ConfigError(
            f"the class {reference} cannot be imported by that name (it is defined "
            "in __main__, inside a function, or replaced since), so a state dict "
            "could not be loaded; move the class into a module, or use "
            "save_as='script' or 'trace'",
            setting="save_as",
            value="state_dict",
        )
    return reference


def _import_class(reference: str) -> type:
    """Import the ``torch.nn.Module`` subclass named ``module:qualname``."""
    import torch

    module_name, _, qualname = reference.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"cannot import the module class {reference}: {exc}; install the "
            "package that defines it",
            setting="class",
            value=reference,
        ) from exc
    if not (isinstance(found, type) and issubclass(found, torch.nn.Module)):
        raise ConfigError(
            f"{reference} is not a torch.nn.Module subclass, so the pytorch flavor "
            "does not build it",
            setting="class",
            value=reference,
        )
    return found


def _rebuild(module_class: type, init_kwargs: Mapping[str, Any], data: bytes) -> Any:
    """Build ``module_class(**init_kwargs)`` and load the state dict in ``data``."""
    import torch

    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    try:
        module = module_class(**init_kwargs)
        module.load_state_dict(state)
    except (TypeError, RuntimeError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise ConfigError(
            f"the state dict does not fit {module_class.__qualname__}"
            f"(**{dict(init_kwargs)!r}): {first_line}; pass the constructor's "
            "arguments as init_kwargs",
            setting="init_kwargs",
            value=repr(dict(init_kwargs)),
        ) from exc
    return module.eval()
