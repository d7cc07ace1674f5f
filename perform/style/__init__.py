"""Fast neural style transfer: networks (nets), model files (model), training (train), the live
style stage (stage) and what it hands on (types). Import the module you need: importing the
package does not load torch, so rendering and OSC start fast with style off."""
