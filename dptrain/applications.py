"""`keras.applications` (pretrained ResNet, MobileNet, ...) is out of dptrain's scope: its
weights come from the network, which dptrain never downloads."""


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise NotImplementedError(
        f"dptrain.applications.{name}: keras.applications (pretrained models downloaded from the network) "
        f"is out of dptrain's scope; build the architecture with dt.layers, and load weights you have "
        f"locally with model.load_weights")
