"""Sequential: modules applied in order, registered as "0", "1", ..."""
from __future__ import annotations

from .module import Module


class Sequential(Module):
    """Modules applied in order: `Sequential(Linear(4, 8, activation="relu"), Linear(8, 2))(x)`.
    `parameters()` names each parameter `<index>.<name>`."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        for m in modules:
            self.append(m)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: item {len(self)} is a {type(module).__name__}, not a Module")
        setattr(self, str(len(self)), module)
        return self

    def __len__(self):
        return len(self._registries()[2])

    def __iter__(self):
        return iter(self.children())

    def __getitem__(self, i):
        kids = self.children()
        if isinstance(i, slice):
            return Sequential(*kids[i])
        return kids[i]

    def forward(self, x):
        for name in self.__dict__["_module_names"]:
            x = self.__dict__[name](x)
        return x
