#pragma once
// Groups of portable checks, one function per source file.

/// Topic tree, Hub fan-out, ServerProtocol round trips, ClientSession over LoopbackTransport.
void runRuntimeChecks();
