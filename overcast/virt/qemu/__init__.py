"""The QEMU virt driver: driver.py (the ComputeDriver), runtime.py (processes and states), qmp.py,
disks.py (qemu-img), configdrive.py, accel.py (KVM or TCG), console.py, launch.py (command line)."""
