"""Domain control through libvirt: domain XML, the one connection, power states."""
