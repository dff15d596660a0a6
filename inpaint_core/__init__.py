"""InternalInpaint core library: internal-learning video inpainting of EXR sequences.

No gRPC here; the server and the command line build on this package. The
layers, from the bottom (each may import only those below it; ARCHITECTURE.md):

- ``io``: frame sequences, EXR and image files, colour encoding, display transforms;
- ``masks``: a shot (plate + mattes) and its mattes;
- ``model``: the networks and their losses and regularisers;
- ``inference``: filling a frame with a trained network, compositing;
- ``training``: the data a shot gives, batches, the training loop and its trainers;
- ``jobs``: a whole job (single-scale, progressive, windowed) and ``run_job`` on top.

``errors`` and ``device`` sit beside the layers: every layer may use them.
"""

__version__ = "0.1.0"
