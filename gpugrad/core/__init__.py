"""The core layer: grad-mode and forward-AD state, the graph node, Tensor storage and metadata,
and creating tensors. It imports only the backend; the layers above complete Tensor with its
op methods (see ``tensor.attach``)."""
