from radio.cli import main

# Guarded: a spawned worker process (radio.offload) imports the main module again.
if __name__ == "__main__":
    main()
