namespace MaskRcnn;

/// <summary>
/// Base of the library's own errors about user input (annotations, images, weights, configs). The message
/// names the file, key or field at fault; the CLI prints it as one line and notebooks show it without
/// losing the kernel.
/// </summary>
public class MaskRcnnException(string message, Exception? inner = null) : Exception(message, inner);
