# The fuzz harnesses and what they need, shared by the replay build (tests/fuzz/CMakeLists.txt)
# and the libFuzzer build (tests/fuzz/libfuzzer/CMakeLists.txt). A harness whose sources are not
# in its library yet is skipped, so a layer still being written never breaks the build.
corral_fuzz_harness(negotiator_stream LIBS corral_agent_core NEEDS agent/codec.cpp agent/rpc.cpp)
corral_fuzz_harness(qmp_session LIBS corral_monitor
                    NEEDS monitor/json.cpp monitor/qmp_message.cpp monitor/qmp_session.cpp)
corral_fuzz_harness(instance_name LIBS corral_hypervisor NEEDS hypervisor/instance_name.cpp)
corral_fuzz_harness(instance_spec LIBS corral_hypervisor
                    NEEDS hypervisor/instance_spec.cpp hypervisor/spec_loader.cpp)
corral_fuzz_harness(dbus_args LIBS corral_supervisor_dbus corral_hypervisor
                    NEEDS supervisor/dbus_args.cpp hypervisor/instance_name.cpp)
