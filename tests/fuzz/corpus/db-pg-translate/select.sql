SELECT id FROM rooms WHERE id = ?1 AND x = ? -- ?
