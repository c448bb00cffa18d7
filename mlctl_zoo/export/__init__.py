"""ONNX export (Optimum), ORTOptimizer levels, dynamic int8, the parity gate. Sessions, execution providers
and export records live below, in ``mlctl_zoo.models``: bench and serve use them too."""
