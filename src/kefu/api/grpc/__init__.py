"""gRPC entry points (grpc.aio), beside REST on ``grpc_port``."""
