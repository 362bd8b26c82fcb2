"""Transports: inproc (threads in one process) and amqp (RabbitMQ through kombu)."""
