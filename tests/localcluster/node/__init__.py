"""The node agent: a kubelet stand-in that runs the containers of its Pods as processes."""
