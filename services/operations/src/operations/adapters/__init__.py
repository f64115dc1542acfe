"""Operations' adapters: the Kafka view and the replay records."""
