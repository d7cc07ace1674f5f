"""Fast neural style transfer: networks (nets), model files (model), models published by
pytorch/examples (published), loss networks (features) and losses (losses), training (train),
style images drawn here (paintings), files and videos (media), the live style stage (stage) and
what it hands on (types). Import the module you need: importing the package (or config, types,
media, paintings, cli) does not load torch, so rendering and OSC start fast with style off."""
