"""Language-server surface of qcn: protocol, settings, request routing."""
