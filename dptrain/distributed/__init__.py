"""Data-parallel collectives over ZeroMQ (see ARCHITECTURE.md, dptrain/distributed)."""
from .errors import CollectiveTimeout, DesyncError, PeerLost, RendezvousTimeout
from .communicator import Communicator, SingleProcessCommunicator
from .context import Context, init, get_context, shutdown, all_reduce, broadcast, all_gather, barrier
from .optimizer import (DistributedOptimizer, NonFiniteGradientError, WeightDesyncError, broadcast_module,
                        broadcast_parameters)
from .dp_train import DPResult, WorkerFailed, dp_train
