print("novabox")
