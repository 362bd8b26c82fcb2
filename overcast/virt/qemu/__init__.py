"""The QEMU virt driver: driver.py (the ComputeDriver), vms.py (this host's VMs), resize.py (cold
resize and migration), runtime.py (processes and states), instance.py (one VM and its record), qmp.py,
disks.py (qemu-img), configdrive.py, accel.py (KVM or TCG), console.py, launch.py (command line),
serial_ports.py."""
