import CPU
