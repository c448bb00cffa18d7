"""ONNX export (Optimum), ORTOptimizer levels, dynamic int8, the parity gate, execution providers."""
