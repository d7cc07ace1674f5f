"""The stage picture: scenes of layered GLSL shaders drawn with moderngl, to a window or a file."""
